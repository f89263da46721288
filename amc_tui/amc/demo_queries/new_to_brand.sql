-- name: New-to-brand purchases by campaign
-- description: Purchases and sales from customers new to the brand in the last 12 months.
SELECT
  campaign,
  campaign_id,
  SUM(purchases) AS purchases,
  SUM(new_to_brand_purchases) AS new_to_brand_purchases,
  SUM(new_to_brand_purchases) / NULLIF(SUM(purchases), 0) AS new_to_brand_share,
  SUM(new_to_brand_product_sales) AS new_to_brand_product_sales
FROM amazon_attributed_events_by_conversion_time
WHERE campaign_id IS NOT NULL
GROUP BY campaign, campaign_id
