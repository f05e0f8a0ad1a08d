output "name" {
  description = "Container (and host) name."
  value       = docker_container.s3.name
}

output "endpoint" {
  description = "S3 endpoint URL for containers on the network (path-style)."
  value       = "http://${docker_container.s3.name}:${var.port}"
}

output "host_endpoint" {
  description = "S3 endpoint URL for clients on the host (null when not published)."
  value       = var.host_port == null ? null : "http://${var.host_address}:${var.host_port}"
}

output "region" {
  description = "Region of the endpoint."
  value       = var.region
}

output "bucket" {
  description = "Checkpoint bucket name."
  value       = var.bucket
}
