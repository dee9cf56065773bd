"""Station data: the NOAA ISD catalogue, downloads and the assignment of station-year files to stations.
Imports only fleetcore."""
