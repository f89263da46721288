-- name: Path to conversion
-- description: The ordered campaign exposures that precede a purchase, with conversions per path.
WITH exposures AS (
  SELECT user_id, campaign, impression_dt AS event_dt
  FROM dsp_impressions
  WHERE user_id IS NOT NULL
  UNION ALL
  SELECT user_id, campaign, event_dt
  FROM sponsored_ads_traffic
  WHERE user_id IS NOT NULL AND impressions > 0
),
purchases AS (
  SELECT user_id, MIN(event_dt) AS purchase_dt, SUM(total_product_sales) AS sales
  FROM amazon_attributed_events_by_traffic_time
  WHERE conversion_event_subtype = 'order'
  GROUP BY user_id
),
paths AS (
  SELECT
    p.user_id,
    ARRAY_SORT(COLLECT(DISTINCT e.campaign)) AS path,
    p.sales
  FROM purchases p
  JOIN exposures e ON e.user_id = p.user_id AND e.event_dt <= p.purchase_dt
  GROUP BY p.user_id, p.sales
)
SELECT
  path,
  COUNT(DISTINCT user_id) AS conversions,
  SUM(sales) AS total_product_sales
FROM paths
GROUP BY path
