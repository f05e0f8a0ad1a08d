locals {
  names              = [for i in range(var.broker_count) : "${var.name_prefix}-kafka-${i + 1}"]
  replication_factor = coalesce(var.replication_factor, min(3, var.broker_count))
  min_insync         = coalesce(var.min_insync_replicas, max(1, local.replication_factor - 1))
  publish            = length(var.host_ports) > 0

  # 16 bytes, base64url without padding: what `kafka-storage random-uuid` prints. Derived from
  # the prefix so that re-applying keeps the volumes' formatted storage valid.
  derived_id = trimsuffix(base64encode(substr(sha256(var.name_prefix), 0, 16)), "==")
  cluster_id = coalesce(var.cluster_id, replace(replace(local.derived_id, "+", "-"), "/", "_"))

  voters = join(",", [for i, name in local.names : "${i + 1}@${name}:${var.controller_port}"])

  listeners = join(",", compact([
    "INTERNAL://:${var.client_port}",
    "CONTROLLER://:${var.controller_port}",
    local.publish ? "HOST://:${var.host_listener_port}" : "",
  ]))
  protocol_map = "INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT,HOST:PLAINTEXT"
}

data "docker_image" "kafka" {
  name = var.image
}

resource "docker_volume" "data" {
  count = var.broker_count
  name  = "${local.names[count.index]}-data"

  dynamic "labels" {
    for_each = var.labels
    content {
      label = labels.key
      value = labels.value
    }
  }
}

resource "docker_container" "broker" {
  count    = var.broker_count
  name     = local.names[count.index]
  hostname = local.names[count.index]
  image    = data.docker_image.kafka.id
  restart  = "unless-stopped"
  memory   = var.memory_mb
  # No swap on top (Docker's default doubles the limit); also keeps plans clean.
  memory_swap = var.memory_mb

  env = [
    "KAFKA_HEAP=${var.heap}",
    "KAFKA_CLUSTER_ID=${local.cluster_id}",
    "KAFKA_HEALTH_ADDRESS=localhost:${var.client_port}",
    "KAFKA_CFG_NODE_ID=${count.index + 1}",
    "KAFKA_CFG_PROCESS_ROLES=broker,controller",
    "KAFKA_CFG_CONTROLLER_QUORUM_VOTERS=${local.voters}",
    "KAFKA_CFG_CONTROLLER_LISTENER_NAMES=CONTROLLER",
    "KAFKA_CFG_LISTENERS=${local.listeners}",
    "KAFKA_CFG_ADVERTISED_LISTENERS=${join(",", compact([
      "INTERNAL://${local.names[count.index]}:${var.client_port}",
      local.publish ? "HOST://${var.host_address}:${var.host_ports[count.index]}" : "",
    ]))}",
    "KAFKA_CFG_LISTENER_SECURITY_PROTOCOL_MAP=${local.protocol_map}",
    "KAFKA_CFG_INTER_BROKER_LISTENER_NAME=INTERNAL",
    "KAFKA_CFG_NUM_PARTITIONS=${var.partitions}",
    "KAFKA_CFG_DEFAULT_REPLICATION_FACTOR=${local.replication_factor}",
    "KAFKA_CFG_MIN_INSYNC_REPLICAS=${local.min_insync}",
    "KAFKA_CFG_OFFSETS_TOPIC_REPLICATION_FACTOR=${local.replication_factor}",
    "KAFKA_CFG_TRANSACTION_STATE_LOG_REPLICATION_FACTOR=${local.replication_factor}",
    "KAFKA_CFG_TRANSACTION_STATE_LOG_MIN_ISR=${local.min_insync}",
    "KAFKA_CFG_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR=${local.replication_factor}",
    "KAFKA_CFG_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR=${local.min_insync}",
    "KAFKA_CFG_AUTO_CREATE_TOPICS_ENABLE=false",
    "KAFKA_CFG_GROUP_INITIAL_REBALANCE_DELAY_MS=0",
  ]

  networks_advanced {
    name = var.network_name
  }

  dynamic "ports" {
    for_each = local.publish ? [var.host_ports[count.index]] : []
    content {
      internal = var.host_listener_port
      external = ports.value
      ip       = var.host_address
    }
  }

  volumes {
    volume_name    = docker_volume.data[count.index].name
    container_path = "/var/lib/kafka"
  }

  healthcheck {
    test         = ["CMD", "kafka-healthcheck"]
    interval     = "10s"
    timeout      = "15s"
    start_period = "30s"
    retries      = 6
  }

  # The brokers form the quorum together, so all start at once and each is waited for.
  wait         = true
  wait_timeout = 240

  dynamic "labels" {
    for_each = merge(var.labels, { "com.cryptostream.component" = "kafka" })
    content {
      label = labels.key
      value = labels.value
    }
  }

  lifecycle {
    precondition {
      condition     = length(var.host_ports) == 0 || length(var.host_ports) == var.broker_count
      error_message = "host_ports needs one port per broker (${var.broker_count}) or none."
    }
  }
}
