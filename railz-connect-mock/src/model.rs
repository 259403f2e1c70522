//! Accounting data served by the sandbox API.

use serde::{Deserialize, Serialize};

/// A business (company) whose books the sandbox exposes.
///
/// Serialized with camelCase field names, as on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Company {
    /// Stable identifier, e.g. `"cmp_sandbox_1"`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Registered legal name.
    pub legal_name: String,
    /// ISO 3166-1 alpha-2 country code.
    pub country: String,
    /// ISO 4217 currency code of the books.
    pub currency: String,
    /// Chart of accounts.
    pub accounts: Vec<Account>,
    /// Sales invoices.
    pub invoices: Vec<Invoice>,
}

/// One account of a company's chart of accounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    /// Stable identifier.
    pub id: String,
    /// Display name, e.g. `"Cash"`.
    pub name: String,
    /// One of `asset`, `liability`, `equity`, `income`, `expense`.
    pub kind: String,
    /// Current balance in minor units (cents).
    pub balance_cents: i64,
}

/// A sales invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Invoice {
    /// Stable identifier.
    pub id: String,
    /// Human-facing invoice number, e.g. `"INV-1001"`.
    pub number: String,
    /// Customer name.
    pub customer: String,
    /// Invoice total in minor units (cents).
    pub total_cents: i64,
    /// ISO 4217 currency code.
    pub currency: String,
    /// One of `draft`, `open`, `paid`.
    pub status: String,
}

impl Company {
    /// Builds a realistic company with five accounts (one of each kind)
    /// and three invoices (draft, open, paid), all in CAD.
    ///
    /// Account and invoice ids are derived from `id`, so two samples with
    /// different ids never share sub-ids.
    pub fn sample(id: impl Into<String>, name: impl Into<String>) -> Company {
        let id = id.into();
        let name = name.into();
        let currency = "CAD".to_owned();
        let account = |n: u32, acc_name: &str, kind: &str, balance_cents: i64| Account {
            id: format!("{id}_acc_{n}"),
            name: acc_name.to_owned(),
            kind: kind.to_owned(),
            balance_cents,
        };
        let accounts = vec![
            account(1, "Cash", "asset", 1_254_300),
            account(2, "Accounts Payable", "liability", -341_250),
            account(3, "Owner's Equity", "equity", -500_000),
            account(4, "Sales Revenue", "income", -2_187_500),
            account(5, "Office Expenses", "expense", 96_480),
        ];
        let invoice = |n: u32, customer: &str, total_cents: i64, status: &str| Invoice {
            id: format!("{id}_inv_{n}"),
            number: format!("INV-{}", 1000 + n),
            customer: customer.to_owned(),
            total_cents,
            currency: currency.clone(),
            status: status.to_owned(),
        };
        let invoices = vec![
            invoice(1, "Maple Leaf Logistics", 125_000, "paid"),
            invoice(2, "Northern Lights Bakery", 48_750, "open"),
            invoice(3, "Great Lakes Consulting", 310_000, "draft"),
        ];
        Company { legal_name: format!("{name} Ltd."), id, name, country: "CA".to_owned(), currency, accounts, invoices }
    }

    /// The default sandbox company: `cmp_sandbox_1`, "Railz Sandbox Company".
    pub fn sandbox_default() -> Company {
        Company::sample("cmp_sandbox_1", "Railz Sandbox Company")
    }
}
