terraform {
  required_version = ">= 1.6.0"

  required_providers {
    docker = {
      source  = "kreuzwerker/docker"
      version = ">= 4.6.0, < 5.0.0"
    }
    local = {
      source  = "hashicorp/local"
      version = ">= 2.9.0, < 3.0.0"
    }
  }
}

provider "docker" {
  # null: DOCKER_HOST from the environment, else the local socket.
  host = var.docker_host
}
