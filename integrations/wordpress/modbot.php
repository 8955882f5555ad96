<?php
/**
 * Plugin Name: modbot
 * Description: Connects WordPress comments to modbot: signed webhooks for new and edited comments, modbot's flag and reason stored in comment meta and shown in the comment list.
 * Version: 1.0.0
 * License: Apache-2.0
 *
 * A must-use plugin: copy this file into wp-content/mu-plugins/. Settings, in wp-config.php:
 *
 *   define( 'MODBOT_WEBHOOK_URL', 'https://modbot.example.org/webhooks/blog' );
 *   define( 'MODBOT_WEBHOOK_SECRET', '...' );   // the site's webhook secret in modbot's config
 *   define( 'MODBOT_WEBHOOK_TIMEOUT', 2 );      // optional: seconds to connect (default 2)
 *
 * Without the two constants no webhook is sent (modbot still polls); the meta fields and the
 * comment-list column work either way. See docs/platforms/wordpress.md in modbot's repository.
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/** Comment meta that modbot writes through the REST API (`meta` field, context=edit only). */
const MODBOT_META_KEYS = array(
	'modbot_action'          => 'What modbot did: flag, hide or restored.',
	'modbot_reason'          => 'Why, in one line for moderators.',
	'modbot_previous_status' => 'The status the comment had before modbot hid it; restore puts it back.',
	'modbot_updated_gmt'     => 'When modbot last wrote these fields (UTC, ISO 8601).',
);

add_action( 'init', 'modbot_register_meta' );
add_action( 'rest_api_init', 'modbot_register_rest_fields' );
add_action( 'wp_insert_comment', 'modbot_on_insert_comment', 10, 2 );
add_filter( 'wp_update_comment_data', 'modbot_before_update_comment', 10, 2 );
add_action( 'edit_comment', 'modbot_on_edit_comment', 10, 2 );
add_filter( 'manage_edit-comments_columns', 'modbot_comment_columns' );
add_action( 'manage_comments_custom_column', 'modbot_comment_column', 10, 2 );

/** Only moderators may write modbot's meta; only the edit context (moderators) shows it. */
function modbot_register_meta() {
	foreach ( MODBOT_META_KEYS as $key => $description ) {
		register_meta(
			'comment',
			$key,
			array(
				'type'              => 'string',
				'description'       => $description,
				'single'            => true,
				'default'           => '',
				'sanitize_callback' => 'modbot_sanitize_meta',
				'auth_callback'     => 'modbot_can_moderate',
				'show_in_rest'      => array(
					'schema' => array(
						'type'      => 'string',
						'context'   => array( 'edit' ),
						'maxLength' => 2000,
					),
				),
			)
		);
	}
}

function modbot_can_moderate() {
	return current_user_can( 'moderate_comments' );
}

function modbot_sanitize_meta( $value ) {
	// Stored as given (the column escapes on output); invalid UTF-8 is dropped, length capped.
	return mb_substr( wp_check_invalid_utf8( (string) $value, true ), 0, 2000 );
}

/**
 * `modbot_author` on comments (edit context only): the author's roles and registration
 * date, so modbot's rules can exempt staff and weigh new accounts.
 */
function modbot_register_rest_fields() {
	register_rest_field(
		'comment',
		'modbot_author',
		array(
			'get_callback' => function ( $item ) {
				return modbot_author_info( (int) $item['author'] );
			},
			'schema'       => array(
				'type'       => 'object',
				'context'    => array( 'edit' ),
				'readonly'   => true,
				'properties' => array(
					'roles'          => array(
						'type'  => 'array',
						'items' => array( 'type' => 'string' ),
					),
					'moderator'      => array( 'type' => 'boolean' ),
					'registered_gmt' => array( 'type' => 'string' ),
				),
			),
		)
	);
}

function modbot_author_info( $user_id ) {
	$user = $user_id ? get_userdata( $user_id ) : false;
	if ( ! $user ) {
		return array(
			'roles'          => array(),
			'moderator'      => false,
			'registered_gmt' => '',
		);
	}
	return array(
		'roles'          => array_values( (array) $user->roles ),
		'moderator'      => user_can( $user, 'moderate_comments' ),
		'registered_gmt' => mysql_to_rfc3339( $user->user_registered ) . 'Z',
	);
}

// --- webhooks -----------------------------------------------------------------------------

function modbot_on_insert_comment( $comment_id, $comment ) {
	modbot_send_webhook( 'comment.created', $comment );
}

/**
 * Remembers the text before an update. WordPress runs wp_update_comment() for any change
 * through the REST API (modbot's own status and meta writes too), so only an update that
 * changes the text is an edit worth a webhook.
 */
function modbot_before_update_comment( $data, $old ) {
	$GLOBALS['modbot_text_before'][ (int) $old['comment_ID'] ] = $old['comment_content'];
	return $data;
}

function modbot_on_edit_comment( $comment_id, $data ) {
	$before = isset( $GLOBALS['modbot_text_before'][ (int) $comment_id ] ) ? $GLOBALS['modbot_text_before'][ (int) $comment_id ] : null;
	$comment = get_comment( $comment_id );
	if ( $comment && $before !== null && $before === $comment->comment_content ) {
		return;
	}
	modbot_send_webhook( 'comment.edited', $comment );
}

/** The comment as the REST API shows it with context=edit (the fields modbot reads). */
function modbot_comment_payload( $comment ) {
	$statuses = array(
		'1' => 'approved',
		'0' => 'hold',
	);
	$status   = (string) $comment->comment_approved;
	return array(
		'id'            => (int) $comment->comment_ID,
		'post'          => (int) $comment->comment_post_ID,
		'parent'        => (int) $comment->comment_parent,
		'author'        => (int) $comment->user_id,
		'author_name'   => $comment->comment_author,
		'date_gmt'      => mysql_to_rfc3339( $comment->comment_date_gmt ),
		'link'          => get_comment_link( $comment ),
		'status'        => isset( $statuses[ $status ] ) ? $statuses[ $status ] : $status,
		'type'          => $comment->comment_type ? $comment->comment_type : 'comment',
		'content'       => array( 'raw' => $comment->comment_content ),
		'modbot_author' => modbot_author_info( (int) $comment->user_id ),
	);
}

/**
 * POST a signed JSON event to modbot. Fire-and-forget: a short connect timeout, no waiting
 * for the answer, and any error is only logged, so modbot being down never breaks
 * commenting. A lost event is picked up by modbot's polling.
 */
function modbot_send_webhook( $event, $comment ) {
	if ( ! defined( 'MODBOT_WEBHOOK_URL' ) || ! defined( 'MODBOT_WEBHOOK_SECRET' ) ) {
		return;
	}
	if ( ! $comment || ! in_array( $comment->comment_type, array( '', 'comment' ), true ) ) {
		return; // pingbacks, trackbacks and other types are not moderated
	}
	$payload = modbot_comment_payload( $comment );
	$body    = wp_json_encode(
		array(
			'event'    => $event,
			'site_url' => home_url(),
			'comment'  => $payload,
		)
	);
	if ( false === $body ) {
		return;
	}
	// Stable per comment version: a repeated event is recognised by modbot as a duplicate.
	$event_id = $payload['id'] . '.' . $event . '.' . substr( hash( 'sha256', $comment->comment_content ), 0, 16 );
	$result   = wp_remote_post(
		MODBOT_WEBHOOK_URL,
		array(
			'blocking' => false,
			'timeout'  => defined( 'MODBOT_WEBHOOK_TIMEOUT' ) ? (float) MODBOT_WEBHOOK_TIMEOUT : 2,
			'headers'  => array(
				'Content-Type'       => 'application/json',
				'X-Modbot-Signature' => 'sha256=' . hash_hmac( 'sha256', $body, MODBOT_WEBHOOK_SECRET ),
				'X-Modbot-Event-Id'  => $event_id,
			),
			'body'     => $body,
		)
	);
	if ( is_wp_error( $result ) ) {
		error_log( 'modbot: webhook for comment ' . $payload['id'] . ' not sent: ' . $result->get_error_message() );
	}
}

// --- wp-admin: Comments list column ---------------------------------------------------------

function modbot_comment_columns( $columns ) {
	$columns['modbot'] = 'modbot';
	return $columns;
}

function modbot_comment_column( $column, $comment_id ) {
	if ( 'modbot' !== $column ) {
		return;
	}
	$action = get_comment_meta( $comment_id, 'modbot_action', true );
	if ( '' === $action ) {
		return;
	}
	$labels = array(
		'flag'     => 'Flagged',
		'hide'     => 'Hidden',
		'restored' => 'Restored',
	);
	$label  = isset( $labels[ $action ] ) ? $labels[ $action ] : $action;
	$reason = get_comment_meta( $comment_id, 'modbot_reason', true );
	$before = get_comment_meta( $comment_id, 'modbot_previous_status', true );
	echo '<strong>' . esc_html( $label ) . '</strong>';
	if ( '' !== $reason ) {
		echo '<br>' . esc_html( $reason );
	}
	if ( '' !== $before ) {
		echo '<br><em>' . esc_html( 'was: ' . $before ) . '</em>';
	}
}
