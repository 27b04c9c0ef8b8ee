"""GraphQL for work units and categories."""
