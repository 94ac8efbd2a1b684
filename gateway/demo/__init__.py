"""The demo "legacy CRM" upstream and its deterministic synthetic customers."""

from gateway.demo.crm import CRM_CUSTOMERS, CRM_USERS, create_crm_app
from gateway.demo.data import (
    CSV_FIELDS,
    Customer,
    demo_users,
    generate_customers,
    non_pii_values,
    pii_values,
)

__all__ = [
    "CRM_CUSTOMERS",
    "CRM_USERS",
    "CSV_FIELDS",
    "Customer",
    "create_crm_app",
    "demo_users",
    "generate_customers",
    "non_pii_values",
    "pii_values",
]
