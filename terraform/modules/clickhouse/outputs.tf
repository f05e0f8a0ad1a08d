output "name" {
  description = "Container (and host) name of the server."
  value       = docker_container.server.name
}

output "url" {
  description = "HTTP URL for containers on the network."
  value       = "http://${docker_container.server.name}:${var.http_port}"
}

output "host_url" {
  description = "HTTP URL for clients on the host (null when not published)."
  value       = var.host_port == null ? null : "http://${var.host_address}:${var.host_port}"
}

output "database" {
  description = "Database the pipeline writes to."
  value       = var.database
}

output "user" {
  description = "Application user."
  value       = var.user
}
