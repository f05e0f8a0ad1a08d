output "yaml" {
  description = "The inventory as YAML, ready for a local_file."
  value       = "# Written by OpenTofu (terraform/envs/*); do not edit.\n${yamlencode(local.inventory)}"
}

output "inventory" {
  description = "The inventory as an object (for tests and other outputs)."
  value       = local.inventory
}
