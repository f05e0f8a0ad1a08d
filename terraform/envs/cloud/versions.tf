terraform {
  required_version = ">= 1.6.0"

  required_providers {
    openstack = {
      source  = "terraform-provider-openstack/openstack"
      version = ">= 3.4.0, < 4.0.0"
    }
    local = {
      source  = "hashicorp/local"
      version = ">= 2.9.0, < 3.0.0"
    }
  }
}

# Credentials and region from the environment: OS_CLOUD naming an entry of clouds.yaml, or the
# OS_* variables of the cloud's openrc file (OS_AUTH_URL, OS_USERNAME, OS_PASSWORD, ...).
provider "openstack" {}
