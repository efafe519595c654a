-- The hash of the last payload Salesforce accepted moves onto the record's id mapping, so a
-- success is one row written instead of two (the sync stores ~1 M of them per large run).
-- NULL means "send this record next time" (a mapping made by identity resolution, say).
-- Keep in lockstep with migrations/postgres/0002_mapping_payload_hash.sql.
ALTER TABLE id_mappings ADD COLUMN payload_hash INTEGER;

-- Carry the hashes over. Each mapping kind is written to exactly one Salesforce key space.
UPDATE id_mappings SET payload_hash = (
    SELECT h.hash FROM payload_hashes h
    WHERE h.external_id = id_mappings.shopify_id
      AND h.object = CASE id_mappings.kind
          WHEN 'company'          THEN 'Account.Shopify_Company_ID__c'
          WHEN 'company_location' THEN 'Account.Shopify_Location_ID__c'
          WHEN 'customer_account' THEN 'Account.Shopify_Customer_ID__c'
          WHEN 'customer'         THEN 'Contact.Shopify_Customer_ID__c'
          WHEN 'variant'          THEN 'Product2.Shopify_Variant_ID__c'
          WHEN 'price'            THEN 'PricebookEntry.Shopify_Price_Key__c'
          WHEN 'order'            THEN 'Order.Shopify_Order_ID__c'
          WHEN 'line_item'        THEN 'OrderItem.Shopify_Line_Item_ID__c'
      END
);

DROP TABLE payload_hashes;
