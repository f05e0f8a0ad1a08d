# The Ansible inventory an environment writes: the same shape whatever made the hosts (Docker
# containers locally, VMs in a cloud), so ansible/deploy.yml runs unchanged against any of them.

locals {
  groups = distinct(concat(var.empty_groups, [for host in values(var.hosts) : host.group]))

  inventory = {
    all = {
      vars = merge(var.vars, {
        ansible_user                 = var.ssh_user
        ansible_ssh_private_key_file = var.ssh_private_key_file
        ansible_ssh_common_args      = "-o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=${var.known_hosts_file} -o IdentitiesOnly=yes"
        ansible_python_interpreter   = "/usr/bin/python3"
      })
      children = merge(
        {
          for group in local.groups : group => {
            hosts = {
              for name, host in var.hosts : name => {
                ansible_host    = host.ansible_host
                ansible_port    = host.ansible_port
                private_address = host.private_address
              } if host.group == group
            }
          }
        },
        { for parent, members in var.parent_groups : parent => { children = { for group in members : group => {} } } },
      )
    }
  }
}
