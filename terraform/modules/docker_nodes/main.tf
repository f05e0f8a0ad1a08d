# Plain Debian hosts as containers: systemd as PID 1, sshd, python3 and nothing of the pipeline,
# reached over SSH on a port published on the host's loopback address. The recipe for systemd in
# an unprivileged container here is in ARCHITECTURE.md: a private cgroup namespace, /run and
# /run/lock on tmpfs and the cgroup tree mounted read-write.

locals {
  group_names = sort(keys(var.groups))
  nodes = merge([
    for group_index, group in local.group_names : {
      for i in range(var.groups[group].count) :
      "${var.name_prefix}-${var.groups[group].host_name}-${i + 1}" => {
        group     = group
        index     = i
        ssh_port  = var.ssh_port_base + 16 * group_index + i
        memory_mb = var.groups[group].memory_mb
        data_path = var.groups[group].data_path
        ports     = { for port, host_port in var.groups[group].ports : port => host_port + i }
      }
    }
  ]...)
  volumes = { for name, node in local.nodes : name => node.data_path if node.data_path != null }
}

data "docker_image" "node" {
  name = var.image
}

resource "docker_volume" "data" {
  for_each = local.volumes
  name     = "${each.key}-data"

  dynamic "labels" {
    for_each = var.labels
    content {
      label = labels.key
      value = labels.value
    }
  }
}

resource "docker_container" "node" {
  for_each = local.nodes
  name     = each.key
  hostname = each.key
  image    = data.docker_image.node.id
  restart  = "unless-stopped"
  memory   = each.value.memory_mb
  # No swap on top (Docker's default doubles the limit).
  memory_swap = each.value.memory_mb

  cgroupns_mode = "private"
  tmpfs         = { "/run" = "", "/run/lock" = "" }
  volumes {
    host_path      = "/sys/fs/cgroup"
    container_path = "/sys/fs/cgroup"
  }

  dynamic "volumes" {
    for_each = contains(keys(local.volumes), each.key) ? [local.volumes[each.key]] : []
    content {
      volume_name    = docker_volume.data[each.key].name
      container_path = volumes.value
    }
  }

  upload {
    file        = "/root/.ssh/authorized_keys"
    content     = "${var.ssh_public_key}\n"
    permissions = "0600"
  }

  networks_advanced {
    name = var.network_name
  }

  ports {
    internal = 22
    external = each.value.ssh_port
    ip       = var.host_address
  }

  dynamic "ports" {
    for_each = each.value.ports
    content {
      internal = tonumber(ports.key)
      external = ports.value
      ip       = var.host_address
    }
  }

  dynamic "labels" {
    for_each = merge(var.labels, {
      "com.cryptostream.group"       = each.value.group
      "com.cryptostream.known-hosts" = coalesce(var.known_hosts_file, "")
    })
    content {
      label = labels.key
      value = labels.value
    }
  }

  # A replaced or destroyed node comes back with new host keys: forget the old one.
  provisioner "local-exec" {
    when    = destroy
    command = "[ -z \"$KNOWN_HOSTS\" ] || [ ! -f \"$KNOWN_HOSTS\" ] || ssh-keygen -q -R \"[$ADDRESS]:$PORT\" -f \"$KNOWN_HOSTS\" 2>/dev/null || true"
    environment = {
      KNOWN_HOSTS = one([for label in self.labels : label.value if label.label == "com.cryptostream.known-hosts"])
      ADDRESS     = one([for port in self.ports : port.ip if port.internal == 22])
      PORT        = one([for port in self.ports : port.external if port.internal == 22])
    }
    interpreter = ["/bin/sh", "-c"]
  }
}
