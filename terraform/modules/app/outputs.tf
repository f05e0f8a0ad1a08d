output "name" {
  description = "Container (and host) name; the deploy reaches it with the docker connection."
  value       = docker_container.app.name
}

output "programs_dir" {
  description = "Where the deploy puts supervisord program files."
  value       = var.programs_dir
}
