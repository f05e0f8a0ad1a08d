# This file is maintained automatically by "tofu init".
# Manual edits may be lost in future updates.

provider "registry.opentofu.org/hashicorp/local" {
  version     = "2.9.0"
  constraints = ">= 2.9.0, < 3.0.0"
  hashes = [
    "h1:24aTilQlsZTv4nsGs0mf+c/FV7rlvwDrQOYmzkfbjtM=",
  ]
}

provider "registry.opentofu.org/kreuzwerker/docker" {
  version     = "4.6.0"
  constraints = ">= 4.6.0, < 5.0.0"
  hashes = [
    "h1:LN5jT1gtHPkSLI390sAdKjjVCaDwqzw7t27mp/rWJDM=",
  ]
}
