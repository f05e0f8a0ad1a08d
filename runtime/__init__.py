"""What the producer, the streaming job and the bootstrap need at run time on any host: the
topology, cache paths, credentials, Kafka client security, Kafka topic chores and the one-shot
bootstrap. Nothing here depends on the local dev runner (stack/), so a node that installs the
project from a wheel runs it without a repository checkout."""
