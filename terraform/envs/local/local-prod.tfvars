# The other small local environment for `make promote FROM=local-staging TO=local-prod`: the same
# hosts as local-staging, but Kafka with SCRAM over TLS as a production cluster would run it
# (the security profile belongs to the environment, not to the release).
#   make infra-apply ENV=local-prod
kafka_broker_count     = 1
spark_worker_count     = 1
kafka_security_profile = "sasl_ssl"
ssh_port_base          = 12400
host_port_offset       = 12000
memory_mb = {
  spark_workers = 1536
  app           = 2048
}
