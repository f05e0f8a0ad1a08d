locals {
  name = "${var.name_prefix}-app"

  # supervisord owns the programs the deploy adds (producer, streaming job): restarts them on
  # failure and sends their output to the container log (`docker logs`).
  supervisord_conf = <<-CONF
    [supervisord]
    nodaemon=true
    logfile=/tmp/supervisord.log
    logfile_maxbytes=10MB
    pidfile=/tmp/supervisord.pid
    childlogdir=/tmp

    [unix_http_server]
    file=/tmp/supervisor.sock
    chmod=0700

    [rpcinterface:supervisor]
    supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

    [supervisorctl]
    serverurl=unix:///tmp/supervisor.sock

    [include]
    files = ${var.programs_dir}/*.conf
  CONF
}

data "docker_image" "app" {
  name = var.image
}

resource "docker_container" "app" {
  name     = local.name
  hostname = local.name
  image    = data.docker_image.app.id
  command  = ["supervisord", "-c", "/etc/supervisord.conf"]
  restart  = "unless-stopped"
  memory   = var.memory_mb
  # No swap on top (Docker's default doubles the limit); also keeps plans clean.
  memory_swap = var.memory_mb

  env = concat(
    [for key, value in var.environment : "${key}=${value}"],
    [for key, value in var.secret_environment : "${key}=${value}"],
    ["SPARK_DRIVER_HOST=${local.name}"],
  )

  upload {
    file    = "/etc/supervisord.conf"
    content = local.supervisord_conf
  }

  networks_advanced {
    name = var.network_name
  }

  healthcheck {
    test         = ["CMD", "supervisorctl", "pid"]
    interval     = "5s"
    timeout      = "5s"
    start_period = "5s"
    retries      = 6
  }
  wait         = true
  wait_timeout = 60

  dynamic "labels" {
    for_each = merge(var.labels, { "com.cryptostream.component" = "app" })
    content {
      label = labels.key
      value = labels.value
    }
  }
}
