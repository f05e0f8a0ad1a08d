locals {
  name = "${var.name_prefix}-localstack"
}

data "docker_image" "localstack" {
  name = var.image
}

resource "docker_volume" "data" {
  name = "${local.name}-data"

  dynamic "labels" {
    for_each = var.labels
    content {
      label = labels.key
      value = labels.value
    }
  }
}

resource "docker_container" "s3" {
  name     = local.name
  hostname = local.name
  image    = data.docker_image.localstack.id
  restart  = "unless-stopped"
  memory   = var.memory_mb
  # No swap on top (Docker's default doubles the limit); also keeps plans clean.
  memory_swap = var.memory_mb

  env = [
    "GATEWAY_LISTEN=0.0.0.0:${var.port}",
    "AWS_DEFAULT_REGION=${var.region}",
  ]

  networks_advanced {
    name = var.network_name
  }

  dynamic "ports" {
    for_each = var.host_port == null ? [] : [var.host_port]
    content {
      internal = var.port
      external = ports.value
      ip       = var.host_address
    }
  }

  volumes {
    volume_name    = docker_volume.data.name
    container_path = "/var/lib/localstack"
  }

  healthcheck {
    test = ["CMD", "sh", "-c",
    "wget -q -O- http://127.0.0.1:${var.port}/_localstack/health | grep -Eq '\"s3\": *\"(available|running)\"'"]
    interval     = "5s"
    timeout      = "5s"
    start_period = "20s"
    retries      = 12
  }
  wait         = true
  wait_timeout = 180

  dynamic "labels" {
    for_each = merge(var.labels, { "com.cryptostream.component" = "object-storage" })
    content {
      label = labels.key
      value = labels.value
    }
  }
}
