"""GraphQL subscriptions: complaint events pushed over graphql-ws, fed by the bus."""
