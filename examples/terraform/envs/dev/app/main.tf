# Development application: a single replica, no child modules.
terraform {
  required_version = ">= 1.4"
}

resource "terraform_data" "app" {
  input = {
    name  = "dev-app"
    image = "registry.example.com/app:latest"
  }
}
