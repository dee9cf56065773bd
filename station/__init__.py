"""A simulated weather station: ISD parsing, the message contract, replay and MQTT publishing."""
