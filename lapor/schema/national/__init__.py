"""The national area: ``nationalStats``, ``tenantRanking``, ``locateComplaint`` and a tenant's own
``stats``, translated from ``lapor.tenants.national``."""
