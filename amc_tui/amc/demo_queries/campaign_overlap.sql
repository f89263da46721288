-- name: Audience overlap between DSP and sponsored ads
-- description: Users reached by DSP only, sponsored ads only, or both, with their conversion rates.
WITH dsp AS (
  SELECT DISTINCT user_id FROM dsp_impressions WHERE user_id IS NOT NULL
),
sa AS (
  SELECT DISTINCT user_id FROM sponsored_ads_traffic WHERE user_id IS NOT NULL
),
buyers AS (
  SELECT DISTINCT user_id
  FROM amazon_attributed_events_by_traffic_time
  WHERE conversion_event_subtype = 'order'
),
audience AS (
  SELECT
    COALESCE(d.user_id, s.user_id) AS user_id,
    CASE
      WHEN d.user_id IS NOT NULL AND s.user_id IS NOT NULL THEN 'both'
      WHEN d.user_id IS NOT NULL THEN 'dsp_only'
      ELSE 'sponsored_ads_only'
    END AS exposure_group
  FROM dsp d
  FULL OUTER JOIN sa s ON d.user_id = s.user_id
)
SELECT
  a.exposure_group,
  COUNT(DISTINCT a.user_id) AS reach,
  COUNT(DISTINCT b.user_id) AS converters,
  COUNT(DISTINCT b.user_id) / COUNT(DISTINCT a.user_id) AS conversion_rate
FROM audience a
LEFT JOIN buyers b ON a.user_id = b.user_id
GROUP BY a.exposure_group
