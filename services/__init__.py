"""Business logic: transactions, queries, serialisation to plain dicts.

Views call services; services never touch ``request``. Cache invalidation
after commit is the services' job (see ``services.invalidation``)."""
