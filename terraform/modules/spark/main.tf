locals {
  master_name  = "${var.name_prefix}-spark-master"
  master_url   = "spark://${local.master_name}:${var.master_port}"
  worker_names = [for i in range(var.worker_count) : "${var.name_prefix}-spark-worker-${i + 1}"]
}

data "docker_image" "spark" {
  name = var.image
}

resource "docker_container" "master" {
  name     = local.master_name
  hostname = local.master_name
  image    = data.docker_image.spark.id
  command  = ["master"]
  restart  = "unless-stopped"
  memory   = var.master_container_memory_mb
  # No swap on top (Docker's default doubles the limit); also keeps plans clean.
  memory_swap = var.master_container_memory_mb

  env = [
    "SPARK_MASTER_HOST=${local.master_name}",
    "SPARK_MASTER_PORT=${var.master_port}",
    "SPARK_MASTER_WEBUI_PORT=${var.master_ui_port}",
  ]

  networks_advanced {
    name = var.network_name
  }

  dynamic "ports" {
    for_each = var.master_ui_host_port == null ? [] : [var.master_ui_host_port]
    content {
      internal = var.master_ui_port
      external = ports.value
      ip       = var.host_address
    }
  }

  healthcheck {
    test         = ["CMD", "spark-healthcheck"]
    interval     = "10s"
    timeout      = "5s"
    start_period = "20s"
    retries      = 6
  }
  wait         = true
  wait_timeout = 180

  dynamic "labels" {
    for_each = merge(var.labels, { "com.cryptostream.component" = "spark-master" })
    content {
      label = labels.key
      value = labels.value
    }
  }
}

resource "docker_container" "worker" {
  count    = var.worker_count
  name     = local.worker_names[count.index]
  hostname = local.worker_names[count.index]
  image    = data.docker_image.spark.id
  command  = ["worker"]
  restart  = "unless-stopped"
  memory   = var.worker_container_memory_mb
  # No swap on top (Docker's default doubles the limit); also keeps plans clean.
  memory_swap = var.worker_container_memory_mb

  env = [
    "SPARK_MASTER_URL=${local.master_url}",
    "SPARK_WORKER_CORES=${var.worker_cores}",
    "SPARK_WORKER_MEMORY=${var.worker_memory}",
    "SPARK_WORKER_WEBUI_PORT=${var.worker_ui_port}",
  ]

  networks_advanced {
    name = var.network_name
  }

  # Healthy once the master lists the worker as ALIVE (docker/spark/healthcheck.py).
  healthcheck {
    test         = ["CMD", "spark-healthcheck"]
    interval     = "10s"
    timeout      = "5s"
    start_period = "20s"
    retries      = 6
  }
  wait         = true
  wait_timeout = 180

  dynamic "labels" {
    for_each = merge(var.labels, { "com.cryptostream.component" = "spark-worker" })
    content {
      label = labels.key
      value = labels.value
    }
  }

  depends_on = [docker_container.master]
}
