resource "docker_network" "this" {
  name   = var.name
  driver = "bridge"

  # Containers resolve each other by name on this network; nothing else is reachable from it
  # except through the ports the other modules publish on the host's loopback address.
  dynamic "labels" {
    for_each = var.labels
    content {
      label = labels.key
      value = labels.value
    }
  }
}
