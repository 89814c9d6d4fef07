# A naming convention shared by every environment: "<env>-<name>".
variable "env" {
  type = string
}

variable "name" {
  type = string
}

resource "terraform_data" "label" {
  input = {
    id  = "${var.env}-${var.name}"
    env = var.env
  }
}

output "id" {
  value = terraform_data.label.output.id
}
