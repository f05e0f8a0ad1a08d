# The checkpoint bucket and its S3 credentials. With OpenStack credentials (clouds.yaml and
# OS_CLOUD, or the OS_* variables of an openrc file):
#   tofu init && tofu plan -var s3_endpoint=<the cloud's S3 endpoint>
# then, after apply, hand the credentials to a process without printing them:
#   export AWS_ACCESS_KEY_ID=$(tofu output -raw access_key_id)
#   export AWS_SECRET_ACCESS_KEY=$(tofu output -raw secret_access_key)
# Without a cloud, modules/openstack_object_storage/tests plans it against a mocked provider.

terraform {
  required_version = ">= 1.6.0"

  required_providers {
    openstack = {
      source  = "terraform-provider-openstack/openstack"
      version = ">= 3.4.0, < 4.0.0"
    }
  }
}

provider "openstack" {}

variable "s3_endpoint" {
  description = "The cloud's S3-compatible endpoint."
  type        = string
  default     = "https://s3.example-cloud.net"
}

locals {
  topology = yamldecode(file("${path.module}/../../../../../runtime/topology.yaml"))
}

module "object_storage" {
  source      = "../.."
  bucket_name = "${local.topology.object_storage.checkpoint_bucket}-example"
  s3_endpoint = var.s3_endpoint
  s3_region   = local.topology.object_storage.region
}

output "bucket" {
  description = "The checkpoint bucket."
  value       = module.object_storage.bucket
}

output "access_key_id" {
  description = "S3 access key id."
  value       = module.object_storage.access_key_id
  sensitive   = true
}

output "secret_access_key" {
  description = "S3 secret key."
  value       = module.object_storage.secret_access_key
  sensitive   = true
}
