# Test helper: the environments' variable files, as values the test runs pass to the root (a
# run's variables may refer to an earlier run's outputs; they may not call file() in OpenTofu 1.10).

terraform {
  required_providers {
    openstack = {
      source = "terraform-provider-openstack/openstack"
    }
    local = {
      source = "hashicorp/local"
    }
  }
}

variable "forwarded" {
  description = "The variables the test runs pass from the files to the root."
  type        = list(string)
}

locals {
  files = {
    for environment in ["staging", "prod"] : environment => jsondecode(file("${path.module}/../../${environment}.tfvars.json"))
  }
}

output "staging" {
  description = "staging.tfvars.json"
  value       = local.files.staging
}

output "prod" {
  description = "prod.tfvars.json"
  value       = local.files.prod
}

output "not_forwarded" {
  description = "Per file, the variables it sets that the test does not pass on, or passes on without the file setting them."
  value       = { for environment, values in local.files : environment => sort(setunion(setsubtract(keys(values), var.forwarded), setsubtract(var.forwarded, keys(values)))) }
}
