locals {
  name = "${var.name_prefix}-clickhouse"
}

data "docker_image" "clickhouse" {
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

resource "docker_container" "server" {
  name     = local.name
  hostname = local.name
  image    = data.docker_image.clickhouse.id
  restart  = "unless-stopped"
  memory   = var.memory_mb
  # No swap on top (Docker's default doubles the limit); also keeps plans clean.
  memory_swap = var.memory_mb

  env = [
    "CLICKHOUSE_USER=${var.user}",
    "CLICKHOUSE_PASSWORD=${var.password}",
    "CLICKHOUSE_DB=${var.database}",
    "CLICKHOUSE_HTTP_PORT=${var.http_port}",
    "CLICKHOUSE_DEFAULT_ACCESS_MANAGEMENT=1",
  ]

  networks_advanced {
    name = var.network_name
  }

  dynamic "ports" {
    for_each = var.host_port == null ? [] : [var.host_port]
    content {
      internal = var.http_port
      external = ports.value
      ip       = var.host_address
    }
  }

  volumes {
    volume_name    = docker_volume.data.name
    container_path = "/var/lib/clickhouse"
  }

  healthcheck {
    test         = var.healthcheck_command
    interval     = "5s"
    timeout      = "5s"
    start_period = "10s"
    retries      = 10
  }
  wait         = true
  wait_timeout = 120

  dynamic "labels" {
    for_each = merge(var.labels, { "com.cryptostream.component" = "clickhouse" })
    content {
      label = labels.key
      value = labels.value
    }
  }
}
