output "broker_names" {
  description = "Container names of the brokers (also their host names on the network)."
  value       = docker_container.broker[*].name
}

output "bootstrap_servers" {
  description = "Bootstrap servers for containers on the network."
  value       = join(",", [for name in docker_container.broker[*].name : "${name}:${var.client_port}"])
}

output "host_bootstrap_servers" {
  description = "Bootstrap servers for clients on the host (empty when nothing is published)."
  value       = join(",", [for port in var.host_ports : "${var.host_address}:${port}"])
}

output "replication_factor" {
  description = "Replication factor the cluster uses for topics."
  value       = local.replication_factor
}

output "min_insync_replicas" {
  description = "min.insync.replicas of the cluster."
  value       = local.min_insync
}

output "partitions" {
  description = "Default partitions per topic."
  value       = var.partitions
}
