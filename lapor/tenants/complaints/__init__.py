"""Complaints: the lifecycle, the services that move a complaint, and the queries that read them."""
