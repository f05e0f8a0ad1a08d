# A small local environment, one of the two `make promote` moves releases between
# (terraform/README.md, "Promotion"): one broker, one worker, its own ports.
#   make infra-apply ENV=local-staging     (workspace local-staging, this file)
kafka_broker_count     = 1
spark_worker_count     = 1
kafka_security_profile = "plaintext"
ssh_port_base          = 12300
host_port_offset       = 11000
memory_mb = {
  spark_workers = 1536
  app           = 2048
}
