# Production application: the service and its configuration.
terraform {
  required_version = ">= 1.4"
}

module "service" {
  source   = "../../../modules/service"
  env      = "prod"
  name     = "app"
  image    = "registry.example.com/app:1.4.2"
  replicas = 2
}

resource "terraform_data" "config" {
  input = {
    service   = module.service.id
    log_level = "info"
  }
}
