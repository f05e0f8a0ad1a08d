# The environment's SSH key pair, made with ssh-keygen on the machine that runs tofu (the
# hashicorp/tls provider does not build here, and a key made by a provider would sit in the
# state in clear text). The key lives outside the repository and is removed on destroy.

locals {
  private_key_file = "${var.directory}/id_ed25519"
}

resource "terraform_data" "key_pair" {
  input = {
    directory   = var.directory
    private_key = local.private_key_file
  }

  provisioner "local-exec" {
    command = <<-EOT
      set -eu
      umask 077
      mkdir -p "$DIR"
      [ -f "$KEY" ] || ssh-keygen -q -t ed25519 -N '' -C "$COMMENT" -f "$KEY"
      chmod 600 "$KEY"
    EOT
    environment = {
      DIR     = var.directory
      KEY     = local.private_key_file
      COMMENT = var.comment
    }
    interpreter = ["/bin/sh", "-c"]
  }

  provisioner "local-exec" {
    when        = destroy
    command     = "rm -rf \"$DIR\""
    environment = { DIR = self.input.directory }
    interpreter = ["/bin/sh", "-c"]
  }
}

# Read after the key exists (depends_on defers a data source to apply time on a first run).
data "local_file" "public_key" {
  filename   = "${local.private_key_file}.pub"
  depends_on = [terraform_data.key_pair]
}
