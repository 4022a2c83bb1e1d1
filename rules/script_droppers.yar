/*
 * script_droppers.yar - script-based droppers (Windows Script Host / HTA, Unix shell)
 *
 * What:  - Vigil_Script_ActiveXDropper: JScript/JavaScript or HTA that creates
 *          WScript.Shell through ActiveXObject / WScript.CreateObject (or an HTA
 *          application using CreateObject), calls .Run/.Exec/ShellExecute, AND
 *          downloads or launches a second stage (XMLHTTP/WinHttp GET,
 *          ADODB.Stream, powershell, cmd /c, mshta/bitsadmin/certutil/regsvr32/
 *          rundll32). The usual e-mail attachment (.js/.jse/.hta/.wsf)
 *          and drive-by HTA payload.
 *        - Vigil_Shell_SecurityDisableDropper: a Unix shell script that turns off
 *          host defences (setenforce 0, SELinux config, ufw/firewalld/iptables
 *          flush, AppArmor, Alibaba/Tencent cloud agents, shell history) AND
 *          downloads with curl/wget and pipes into a shell ("| sh", "| bash") or
 *          makes a file in /tmp executable ("chmod +x /tmp/...").
 *          Typical of cryptojacking / botnet installers (TeamTNT, Kinsing, 8220).
 * Why:   both are common first stages that lead to the payload rules above.
 * FPs:   legitimate HTA/WSH admin tools do use WScript.Shell.Run, hence the
 *        extra download/second-stage requirement. "curl | sh" installers are
 *        common and harmless by themselves, and so is "setenforce 0" in a
 *        tutorial; only the combination in one file matches. Both "high".
 */

rule Vigil_Script_ActiveXDropper
{
    meta:
        id          = "VG-0020"
        description = "JScript/HTA creating WScript.Shell via ActiveX and running a downloaded or second-stage command"
        severity    = "high"
        category    = "dropper"
        author      = "vigil project"
        date        = "2026-11-29"

    strings:
        $ax1  = "ActiveXObject" nocase ascii wide
        $ax2  = "WScript.CreateObject" nocase ascii wide
        $hta  = "<hta:application" nocase ascii wide
        $co   = "CreateObject(" nocase ascii wide

        $sh   = "WScript.Shell" nocase ascii wide
        $run1 = ".Run(" nocase ascii wide
        $run2 = ".Run " nocase ascii wide
        $run3 = ".Exec(" nocase ascii wide
        $run4 = ".ShellExecute" nocase ascii wide

        $st1  = ".Open(\"GET\"" nocase ascii wide
        $st2  = "mshta" nocase ascii wide
        $st3  = "XMLHTTP" nocase ascii wide
        $st4  = "ADODB.Stream" nocase ascii wide
        $st5  = "powershell" nocase ascii wide
        $st6  = "cmd /c" nocase ascii wide
        $st7  = "cmd.exe /c" nocase ascii wide
        $st8  = "WinHttpRequest" nocase ascii wide
        $st9  = "bitsadmin" nocase ascii wide
        $st10 = "certutil" nocase ascii wide
        $st11 = "regsvr32" nocase ascii wide
        $st12 = "rundll32" nocase ascii wide

    condition:
        filesize < 5MB and
        (any of ($ax*) or ($hta and $co)) and
        $sh and
        any of ($run*) and
        any of ($st*)
}

rule Vigil_Shell_SecurityDisableDropper
{
    meta:
        id          = "VG-0021"
        description = "Shell script disabling host security (SELinux/firewall/AppArmor/cloud agent/history) and piping a download into a shell"
        severity    = "high"
        category    = "dropper"
        author      = "vigil project"
        date        = "2026-11-29"

    strings:
        $d1  = "setenforce 0"
        $d2  = /sed[ \t][^\r\n]{0,40}SELINUX=(enforcing|permissive)[^\r\n]{0,10}SELINUX=disabled/
        $d3  = "ufw disable"
        $d4  = /systemctl[ \t]{1,4}(stop|disable|mask)[ \t]{1,4}(firewalld|apparmor|auditd)/
        $d5  = /service[ \t]{1,4}(firewalld|apparmor|auditd)[ \t]{1,4}stop/
        $d6  = "iptables -F"
        $d7  = "/usr/local/aegis"
        $d8  = "uninstall.sh\" aliyun" nocase
        $d9  = "aliyun-service"
        $d10 = "/usr/local/qcloud"
        $d11 = "unset HISTFILE"
        $d12 = "HISTFILE=/dev/null"
        $d13 = "history -c"
        $d14 = "ulimit -n 65535"
        $d15 = "nmi_watchdog"

        // download ... piped into a shell, or saved to /tmp and made executable
        // (literal strings: cheap atoms, no long regex verification on every
        // "curl"/"wget" found in ordinary binaries)
        $get1  = "curl " ascii
        $get2  = "wget " ascii
        $pipe1 = "| sh" ascii
        $pipe2 = "|sh" ascii
        $pipe3 = "| bash" ascii
        $pipe4 = "|bash" ascii
        $pipe5 = "| sudo sh" ascii
        $pipe6 = "| sudo bash" ascii
        $pipe7 = "chmod +x /tmp/" ascii
        $pipe8 = "chmod 777 /tmp/" ascii
        $pipe9 = "chmod 755 /tmp/" ascii

    condition:
        filesize < 2MB and
        any of ($d*) and
        any of ($get*) and
        any of ($pipe*)
}
