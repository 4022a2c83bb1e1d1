/*
 * webshell_php.yar - PHP webshells and backdoors
 *
 * What:  - Vigil_Webshell_PHP_EvalEncoded: eval()/assert() applied directly to a
 *          decoding function (base64_decode, gzinflate, gzuncompress, gzdecode,
 *          str_rot13, strrev, convert_uudecode, hex2bin), the classic packed
 *          PHP backdoor "eval(gzinflate(base64_decode('...')))".
 *        - Vigil_Webshell_PHP_RequestExec: attacker-controlled request data passed
 *          straight into a code/command execution sink: eval/assert/system/exec/
 *          shell_exec/passthru/popen/proc_open/pcntl_exec($_POST[...] etc.),
 *          a request variable called as a function ($_GET['f']($_GET['a'])),
 *          or preg_replace() with the deprecated /e (eval) modifier in a file that
 *          also reads $_GET/$_POST/$_REQUEST/$_COOKIE.
 * Why:   webshells are the most common persistence on compromised web servers.
 * FPs:   legitimate PHP uses base64_decode() and eval() separately all the time,
 *        so only the nested call pattern matches. Frameworks never pass raw
 *        superglobals to eval/system. Some obfuscated commercial PHP (ionCube-
 *        style loaders, license checkers) uses eval(base64_decode(...)); those are
 *        rare and worth a look anyway, hence "high".
 *        Whitespace and an optional "@" error-suppression operator between
 *        tokens are tolerated; all repetitions are bounded for scan speed.
 */

rule Vigil_Webshell_PHP_EvalEncoded
{
    meta:
        id          = "VG-0011"
        description = "PHP eval/assert of base64/gzip/rot13-decoded data (packed webshell/backdoor)"
        severity    = "high"
        category    = "webshell"
        author      = "vigil project"
        date        = "2026-11-29"

    strings:
        $e1 = /(eval|assert)[ \t\r\n]{0,8}\([ \t\r\n]{0,8}@?[ \t]{0,4}(base64_decode|gzinflate|gzuncompress|gzdecode|str_rot13|strrev|convert_uudecode|hex2bin)[ \t\r\n]{0,8}\(/ nocase

    condition:
        filesize < 5MB and $e1
}

rule Vigil_Webshell_PHP_RequestExec
{
    meta:
        id          = "VG-0012"
        description = "PHP passes request input ($_GET/$_POST/$_REQUEST/$_COOKIE) to eval/assert/system/exec or preg_replace /e"
        severity    = "high"
        category    = "webshell"
        author      = "vigil project"
        date        = "2026-11-29"

    strings:
        // sink($_POST[...]) / sink(@$_POST[...]) / sink(stripslashes($_POST[...]))
        $x1 = /(eval|assert|system|exec|shell_exec|passthru|popen|proc_open|pcntl_exec)[ \t]{0,8}\([ \t]{0,8}@?(stripslashes[ \t]{0,4}\([ \t]{0,4}|trim[ \t]{0,4}\([ \t]{0,4})?\$_(POST|GET|REQUEST|COOKIE)[ \t]{0,4}\[/ nocase
        // $_GET['f']($_GET['a'])  -- request data called as a function
        $x2 = /\$_(POST|GET|REQUEST|COOKIE)[ \t]{0,4}\[[^\]\r\n]{1,40}\][ \t]{0,4}\([ \t]{0,4}@?\$_(POST|GET|REQUEST|COOKIE)/ nocase
        // preg_replace('/.../e', ...) -- /e modifier evaluates the replacement
        $pe = /preg_replace[ \t]{0,8}\([ \t]{0,8}['"][\/#~@|!][^\r\n'"]{0,200}[\/#~@|!][a-zA-Z]{0,6}e[a-zA-Z]{0,6}['"][ \t]{0,8},/

        $sg1 = "$_POST[" nocase
        $sg2 = "$_GET[" nocase
        $sg3 = "$_REQUEST[" nocase
        $sg4 = "$_COOKIE[" nocase

    condition:
        filesize < 5MB and
        (
            $x1 or $x2 or
            ($pe and any of ($sg*))
        )
}
