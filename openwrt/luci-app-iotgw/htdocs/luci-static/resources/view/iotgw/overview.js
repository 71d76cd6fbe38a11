'use strict';
'require view';
'require uci';

// iotgw has its own page on the router; this view only leads there.
// Port and scheme come from /etc/config/iotgw (web_port, web_https).
return view.extend({
	load: function() {
		return uci.load('iotgw');
	},

	render: function() {
		var port = uci.get('iotgw', 'main', 'web_port') || '8443';
		var https = uci.get('iotgw', 'main', 'web_https') !== '0';
		var host = window.location.hostname;

		// An IPv6 literal needs brackets in a URL.
		if (host.indexOf(':') >= 0 && host.charAt(0) !== '[')
			host = '[' + host + ']';

		var url = (https ? 'https' : 'http') + '://' + host + ':' + port + '/';

		return E('div', { 'class': 'cbi-map' }, [
			E('h2', {}, _('iotgw')),
			E('div', { 'class': 'cbi-map-descr' },
				_('iotgw holds the devices on your network to the IoT security baseline: it shows each device, what it found, and the devices it quarantined.')),
			E('p', {}, [
				E('a', { 'class': 'btn cbi-button cbi-button-action', 'href': url, 'target': '_blank', 'rel': 'noopener noreferrer' },
					_('Open the iotgw page'))
			]),
			E('p', {}, [ _('Address: '), E('code', {}, url) ])
		]);
	},

	handleSave: null,
	handleSaveApply: null,
	handleReset: null
});
