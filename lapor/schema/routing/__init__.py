"""GraphQL for routing rules: ``routingRules``, ``routingPreview`` and the rule mutations."""
