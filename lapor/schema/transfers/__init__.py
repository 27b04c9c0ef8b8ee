"""GraphQL of the transfer area: ``transferComplaint`` and the tenant's ``transfers`` ledger."""
