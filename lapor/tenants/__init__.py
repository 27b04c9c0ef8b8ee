"""Tenancy: the registry in ``public``, provisioning, and the one way to enter a tenant."""
