/** DHCPv4 for services (`fata/dhcp`): the client a stack runs without --ipv4, and the server of examples/dhcp-server. */
export * from './client.ts';
export * from './server.ts';
