-- Which company each B2B contact belongs to, as the companies export last said. An
-- incremental run whose companies export does not list a contact (its company did not
-- change) still knows the customer is a B2B contact: the Contact stays under its company's
-- Account and the contact's own orders go there too.
-- Keep in lockstep with migrations/postgres/0003_company_contacts.sql.
CREATE TABLE company_contacts (
    shop        TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    company_id  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (shop, customer_id)
);
