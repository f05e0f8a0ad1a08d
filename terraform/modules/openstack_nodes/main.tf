# Plain Debian hosts on OpenStack, one instance per host of each inventory group: a port with a
# fixed address and the group's security groups, an optional floating IP, anti-affinity server
# groups where asked, and a Cinder data volume attached at boot where the group has one. cloud-init
# installs the SSH key and python3 and puts the data volume at its data_path (the counterpart of
# the local env's Docker volume); everything else is Ansible's.

locals {
  group_names = sort(keys(var.groups))

  nodes = merge([
    for group in local.group_names : {
      for i in range(var.groups[group].count) :
      "${var.name_prefix}-${var.groups[group].host_name}-${i + 1}" => {
        group           = group
        index           = i
        private_address = cidrhost(var.subnet_cidr, 16 * var.groups[group].address_block + i)
        flavor          = var.groups[group].flavor
        image           = var.groups[group].image
        volume_size_gb  = var.groups[group].volume_size_gb
        volume_type     = var.groups[group].volume_type
        data_path       = var.groups[group].data_path
        anti_affinity   = var.groups[group].anti_affinity
      }
    }
  ]...)

  volumes        = { for name, node in local.nodes : name => node if node.volume_size_gb != null }
  spread_groups  = toset([for group in local.group_names : group if var.groups[group].anti_affinity && var.groups[group].count > 0])
  images         = toset([for group in local.group_names : var.groups[group].image if var.groups[group].count > 0])
  floating_nodes = var.assign_floating_ips ? local.nodes : {}
}

data "openstack_images_image_v2" "image" {
  for_each    = local.images
  name        = each.key
  most_recent = true
}

resource "openstack_compute_servergroup_v2" "spread" {
  for_each = local.spread_groups
  name     = "${var.name_prefix}-${var.groups[each.key].host_name}"
  policies = [var.anti_affinity_policy]
}

resource "openstack_networking_port_v2" "node" {
  for_each           = local.nodes
  name               = each.key
  network_id         = var.network_id
  admin_state_up     = true
  security_group_ids = var.security_group_ids[each.value.group]

  fixed_ip {
    subnet_id  = var.subnet_id
    ip_address = each.value.private_address
  }

  lifecycle {
    precondition {
      condition     = contains(keys(var.security_group_ids), each.value.group)
      error_message = "security_group_ids has no entry for the group ${each.value.group}."
    }
  }
}

resource "openstack_blockstorage_volume_v3" "data" {
  for_each          = local.volumes
  name              = "${each.key}-data"
  description       = "${each.value.data_path} of ${each.key}"
  size              = each.value.volume_size_gb
  volume_type       = each.value.volume_type
  availability_zone = var.availability_zone
}

locals {
  data_devices = { for name, volume in openstack_blockstorage_volume_v3.data : name => "${var.data_device_prefix}${substr(volume.id, 0, 20)}" }

  # The whole user data: the key, python3 (Ansible's interpreter), and where a data volume is
  # mounted. bootcmd makes the file system on first boot only (blkid -p exits 2 on a blank
  # device), so a replaced instance mounts its predecessor's data as it is.
  user_data = {
    for name, node in local.nodes : name => "#cloud-config\n${yamlencode(merge(
      {
        ssh_authorized_keys = [var.ssh_public_key]
        packages            = ["python3"]
      },
      contains(keys(local.volumes), name) ? {
        bootcmd = [["sh", "-c", "test -b \"$0\" || exit 0; blkid -p \"$0\" >/dev/null 2>&1; [ $? -ne 2 ] || mkfs.ext4 -q -L data \"$0\"", local.data_devices[name]]]
        mounts  = [[local.data_devices[name], node.data_path, "ext4", "defaults,nofail,x-systemd.device-timeout=60s", "0", "2"]]
      } : {},
    ))}"
  }
}

resource "openstack_compute_instance_v2" "node" {
  for_each          = local.nodes
  name              = each.key
  flavor_name       = each.value.flavor
  availability_zone = var.availability_zone
  user_data         = local.user_data[each.key]
  metadata          = merge(var.metadata, { "cryptostream-group" = each.value.group })

  network {
    port = openstack_networking_port_v2.node[each.key].id
  }

  # The root disk from the image, on the hypervisor; the data volume (if any) attached at boot, so
  # that cloud-init finds it, and kept when the instance is replaced or destroyed.
  block_device {
    uuid                  = data.openstack_images_image_v2.image[each.value.image].id
    source_type           = "image"
    destination_type      = "local"
    boot_index            = 0
    delete_on_termination = true
  }

  dynamic "block_device" {
    for_each = contains(keys(local.volumes), each.key) ? [openstack_blockstorage_volume_v3.data[each.key].id] : []
    content {
      uuid                  = block_device.value
      source_type           = "volume"
      destination_type      = "volume"
      boot_index            = -1
      delete_on_termination = false
    }
  }

  dynamic "scheduler_hints" {
    for_each = each.value.anti_affinity ? [openstack_compute_servergroup_v2.spread[each.value.group].id] : []
    content {
      group = scheduler_hints.value
    }
  }

  lifecycle {
    # A newer image under the same name, or a new SSH key, must not replace running brokers: both
    # only matter on first boot. `tofu apply -replace=...` rebuilds a host with the current ones.
    ignore_changes = [block_device[0].uuid, user_data]
  }
}

resource "openstack_networking_floatingip_v2" "node" {
  for_each    = local.floating_nodes
  pool        = var.floating_ip_pool
  port_id     = openstack_networking_port_v2.node[each.key].id
  description = each.key

  lifecycle {
    precondition {
      condition     = var.floating_ip_pool != null
      error_message = "assign_floating_ips needs floating_ip_pool (the external network's name)."
    }
  }
}

# A replaced or destroyed host comes back with new host keys under the same addresses: forget the
# old ones (the inventory accepts a new host's key on first contact and checks it after).
resource "terraform_data" "known_host" {
  for_each = local.nodes
  input = {
    known_hosts = var.known_hosts_file == null ? "" : var.known_hosts_file
    addresses   = join(" ", compact([each.value.private_address, try(openstack_networking_floatingip_v2.node[each.key].address, "")]))
  }

  lifecycle {
    replace_triggered_by = [openstack_compute_instance_v2.node[each.key].id]
  }

  provisioner "local-exec" {
    when        = destroy
    command     = "[ -n \"$KNOWN_HOSTS\" ] && [ -f \"$KNOWN_HOSTS\" ] || exit 0; for address in $ADDRESSES; do ssh-keygen -q -R \"$address\" -f \"$KNOWN_HOSTS\" >/dev/null 2>&1 || true; done"
    environment = { KNOWN_HOSTS = self.input.known_hosts, ADDRESSES = self.input.addresses }
    interpreter = ["/bin/sh", "-c"]
  }
}
