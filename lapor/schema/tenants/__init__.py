"""GraphQL for the tenant a request is served by."""
