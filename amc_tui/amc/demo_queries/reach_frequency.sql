-- name: Reach and frequency by campaign
-- description: Unique users reached, impressions and average frequency per DSP campaign.
WITH campaign_users AS (
  SELECT
    campaign,
    campaign_id,
    user_id,
    SUM(impressions) AS user_impressions
  FROM dsp_impressions
  WHERE user_id IS NOT NULL
  GROUP BY campaign, campaign_id, user_id
)
SELECT
  campaign,
  campaign_id,
  COUNT(DISTINCT user_id) AS reach,
  SUM(user_impressions) AS impressions,
  SUM(user_impressions) / COUNT(DISTINCT user_id) AS avg_frequency
FROM campaign_users
GROUP BY campaign, campaign_id
