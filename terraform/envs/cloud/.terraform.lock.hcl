# This file is maintained automatically by "tofu init".
# Manual edits may be lost in future updates.

provider "registry.opentofu.org/hashicorp/local" {
  version     = "2.9.0"
  constraints = ">= 2.9.0, < 3.0.0"
  hashes = [
    "h1:24aTilQlsZTv4nsGs0mf+c/FV7rlvwDrQOYmzkfbjtM=",
  ]
}

provider "registry.opentofu.org/terraform-provider-openstack/openstack" {
  version     = "3.4.0"
  constraints = ">= 3.4.0, < 4.0.0"
  hashes = [
    "h1:xzp4+vZnYNF5v/emmtDu9saj8K7l0lJLrpYU4t2JVso=",
  ]
}
