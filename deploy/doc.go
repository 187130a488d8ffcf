// Package deploy holds the files an operator deploys tfps with, and the
// tests that check them: Prometheus alerting rules and scrape jobs
// (prometheus/), a Grafana dashboard (grafana/) and systemd units with an
// environment file (systemd/), and the example /etc/tfps/tfps.conf.
// scripts/package.sh puts them into the Debian package (debian/).
package deploy
