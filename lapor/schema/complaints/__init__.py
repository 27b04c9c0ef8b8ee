"""GraphQL for complaints: staff views, the public feed, tracking, and every transition."""
