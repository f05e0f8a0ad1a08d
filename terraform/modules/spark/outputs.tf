output "master_name" {
  description = "Container (and host) name of the master."
  value       = docker_container.master.name
}

output "master_url" {
  description = "spark:// URL of the master for drivers on the network."
  value       = local.master_url
}

output "worker_names" {
  description = "Container names of the workers."
  value       = docker_container.worker[*].name
}

output "master_ui_host_url" {
  description = "Master UI for a browser on the host (null when not published)."
  value       = var.master_ui_host_port == null ? null : "http://${var.host_address}:${var.master_ui_host_port}"
}
